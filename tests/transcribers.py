"""Pluggable parts the tests configure through settings."""

from chatkit.types import TranscriptionResult

from django_chatkit.context import RequestContext


async def shout(audio_input, context):
    return TranscriptionResult(text=f"{audio_input.data.decode().upper()} ({audio_input.media_type})")


def header_context(request):
    """A token-style context builder: the owner comes from a header, no session."""
    return RequestContext(user_id=f"api:{request.headers.get('X-Api-User', 'nobody')}", request=request)
