"""The API tokens page: a person's own tokens, made (the secret shown once), listed and revoked."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from faune_platform.forms import TokenForm
from faune_platform.tokens.services import api_token_create, api_token_revoke, tokens_of


@never_cache  # the answer may hold a secret
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens_page(request: HttpRequest) -> HttpResponse:
    """The secret of a new token is rendered in the answer to the POST itself, never kept (not even
    in the session table): leaving the page loses it, which the page says."""
    form = TokenForm(
        request.POST if request.method == "POST" else None
    )  # an empty POST is still a POST
    new = None
    if request.method == "POST" and form.is_valid():
        new = api_token_create(user=request.user, **form.cleaned_data)
        form = TokenForm()
    return render(
        request,
        "tokens/api_tokens.html",
        {"form": form, "tokens": tokens_of(request.user), "new": new},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def api_token_revoke_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not api_token_revoke(user=request.user, token_id=pk):
        raise Http404(_("You have no token with this id."))
    messages.success(request, _("The token was revoked: it no longer works."))
    return redirect("api-tokens")
