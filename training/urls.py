from django.urls import path

from training import apis, views

api_urlpatterns = [
    path("rounds/", apis.RoundListApi.as_view(), name="api-rounds"),
    path("rounds/<int:pk>/", apis.RoundDetailApi.as_view(), name="api-round"),
    path("rounds/<int:pk>/cancel/", apis.RoundCancelApi.as_view(), name="api-round-cancel"),
]

urlpatterns = [
    path("rounds/", views.round_list, name="round-list"),
    path("rounds/<int:pk>/", views.round_detail, name="round-detail"),
    path("rounds/<int:pk>/cancel/", views.round_cancel, name="round-cancel"),
    path("rounds/<int:pk>/compare/", views.round_compare, name="round-compare"),
    path("rounds/<int:pk>/plots/<str:name>", views.round_plot, name="round-plot"),
    path("releases/", views.release_list, name="release-list"),
    path("releases/<str:semver>/", views.release_detail, name="release-detail"),
    path("releases/<str:semver>/files/<str:name>", views.release_file, name="release-file"),
]
