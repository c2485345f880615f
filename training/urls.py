from django.urls import path

from faune_platform import converters  # noqa: F401 registers <id:...>
from training import apis, views

api_urlpatterns = [
    path("rounds/", apis.RoundListApi.as_view(), name="api-rounds"),
    path("rounds/<id:pk>/", apis.RoundDetailApi.as_view(), name="api-round"),
    path("rounds/<id:pk>/cancel/", apis.RoundCancelApi.as_view(), name="api-round-cancel"),
]

urlpatterns = [
    path("rounds/", views.round_list, name="round-list"),
    path("rounds/<id:pk>/", views.round_detail, name="round-detail"),
    path("rounds/<id:pk>/cancel/", views.round_cancel, name="round-cancel"),
    path("rounds/<id:pk>/compare/", views.round_compare, name="round-compare"),
    path("rounds/<id:pk>/plots/<str:name>", views.round_plot, name="round-plot"),
    path("models/", views.model_list, name="model-list"),
    path("models/<id:pk>/status/", views.model_status, name="model-status"),
    path("releases/", views.release_list, name="release-list"),
    path("releases/<str:semver>/", views.release_detail, name="release-detail"),
    path("releases/<str:semver>/files/<str:name>", views.release_file, name="release-file"),
    path("releases/<str:semver>/download.zip", views.release_download, name="release-download"),
]
