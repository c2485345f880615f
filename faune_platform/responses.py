"""How a domain refusal reaches a person over HTTP: the one mapping from category to status, for the
API's exception handler and for pages alike."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext

from faune_platform import errors

STATUS_OF_CATEGORY: dict[type[errors.DomainError], int] = {
    errors.InputRefused: 400,
    errors.NotFound: 404,
    errors.StateConflict: 409,
    errors.Gone: 410,
    errors.TooLarge: 413,
    errors.AllowanceSpent: 429,
}


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a domain error; None for anything else (left to Django or DRF)."""
    category = errors.category_of(error)
    return STATUS_OF_CATEGORY[category] if category else None


def message_of(error: BaseException) -> str:
    """The refusal's message in the reader's language: a catalogue message worded where Django is
    not imported is translated here; one a service already translated reads as it is."""
    if not isinstance(error, errors.DomainError):
        return str(error)
    return translated(error.words)


def translated(words: errors.Worded) -> str:
    """A sentence worded without Django, in the reader's language (values that are catalogue
    messages too, as well)."""
    text = gettext(words.template) if words.template else ""
    if not words.params:
        return text
    return text % {
        name: gettext(value) if isinstance(value, errors.Catalogued) else value
        for name, value in words.params.items()
    }


def headers_of(error: BaseException) -> dict[str, str]:
    """Retry-After for an allowance that comes back at a known time."""
    wait = error.retry_after_s if isinstance(error, errors.AllowanceSpent) else 0
    return {"Retry-After": str(wait)} if wait else {}


class DomainErrorMiddleware:
    """A page that lets a domain error through answers with its status and its message as plain
    text, instead of a server error; pages that show the message in their own layout catch the
    error themselves."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        status = status_of(exception)
        if status is None:
            return None
        return HttpResponse(
            message_of(exception),
            status=status,
            content_type="text/plain; charset=utf-8",
            headers=headers_of(exception),
        )
