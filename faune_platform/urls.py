from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotation.urls import api_urlpatterns as annotation_api
from faune_platform import api_docs, converters, views  # noqa: F401 converters registers <id:...>
from faune_platform.dashboard import views as dashboard_views
from faune_platform.tokens import apis as token_apis
from faune_platform.tokens import views as token_views
from inference.urls import api_urlpatterns as inference_api
from training.urls import api_urlpatterns as training_api

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        views.PasswordSetView.as_view(),
        name="password-set",
    ),
    path("accounts/password/", views.PasswordChangePageView.as_view(), name="password-change"),
    path("accounts/tokens/", token_views.api_tokens_page, name="api-tokens"),
    path(
        "accounts/tokens/<id:pk>/revoke/",
        token_views.api_token_revoke_page,
        name="api-token-revoke",
    ),
    path("admin/", admin.site.urls),
    path(
        "i18n/", include("django.conf.urls.i18n")
    ),  # set_language: the footer's English / Français switch
    path("api/token/", token_apis.TokenObtainApi.as_view(), name="api-token"),
    path("api/tokens/", token_apis.TokenListApi.as_view(), name="api-tokens-list"),
    path("api/tokens/<id:pk>/", token_apis.TokenDetailApi.as_view(), name="api-token-detail"),
    path("api/schema/", api_docs.schema_view, name="api-schema"),
    path("api/schema.yaml", api_docs.schema_view, {"format": "yaml"}, name="api-schema-yaml"),
    path("api/docs/", api_docs.api_docs, name="api-docs"),
    path("api/", include(annotation_api)),
    path("api/", include(inference_api)),
    path("api/", include(training_api)),
    path("", include("annotation.urls")),
    path("", include("inference.urls")),
    path("", include("training.urls")),
]
