"""django_chatkit: serve OpenAI's ChatKit protocol from a Django site."""

__version__ = "0.1.0"
