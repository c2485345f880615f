"""The coordinators' dashboard: the pool, the review queues and the models at a glance."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from annotation.permissions import require_coordinator
from annotation.selectors import pool_totals
from faune_platform.dashboard.figures import count, dashboard_sections
from faune_platform.jobs import pending_tasks_waiting
from inference.selectors import production_version


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    require_coordinator(request.user, gettext("see the dashboard"))
    totals = pool_totals()
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "sections": dashboard_sections(),
            "production": production_version(),
            "waiting_tasks": pending_tasks_waiting(),
            "totals": {**totals, "shown": {key: count(value) for key, value in totals.items()}},
        },
    )
