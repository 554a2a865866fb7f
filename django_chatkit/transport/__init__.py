"""How a ChatKit request reaches the app: a Channels consumer or a plain async view."""
