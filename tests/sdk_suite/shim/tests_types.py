"""The request context of the SDK's tests: an owner id, which this app's default owner
resolver reads (``context.user_id``)."""

from pydantic import BaseModel


class RequestContext(BaseModel):
    user_id: str
