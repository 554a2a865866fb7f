"""Models of the demo site."""
