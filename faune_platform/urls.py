from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

from annotation.urls import api_urlpatterns as annotation_api
from faune_platform import api_docs, views
from faune_platform.dashboard import views as dashboard_views
from inference.urls import api_urlpatterns as inference_api
from training.urls import api_urlpatterns as training_api

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password-set"),
    path("admin/", admin.site.urls),
    path("api/token/", obtain_auth_token, name="api-token"),
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
