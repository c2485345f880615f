from django.http import HttpRequest

from annotation.permissions import user_access


def roles(request: HttpRequest) -> dict:
    """Expose the signed-in user's access to templates, so navigation shows only what they
    may use."""
    return {"access": user_access(request.user)}
