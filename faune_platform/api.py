"""How API errors reach people: every refusal is JSON with a `detail` a person can act on."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from faune_platform.converters import MAX_ID
from faune_platform.responses import headers_of, message_of, status_of


class IdField(serializers.IntegerField):
    """An id given in a request body or query string: a positive integer that fits a primary key."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def exception_handler(error: Exception, context: dict) -> Response | None:
    if isinstance(error, DjangoValidationError):
        return Response({"detail": " ".join(error.messages)}, status=400)
    status = status_of(error)  # a domain refusal: its category says the status
    if status is not None:
        set_rollback()  # as DRF does for its own exceptions: nothing of the refused request is kept
        return Response({"detail": message_of(error)}, status=status, headers=headers_of(error))
    return drf_exception_handler(error, context)
