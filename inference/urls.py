from django.urls import path

from faune_platform import converters  # noqa: F401 registers <id:...>
from inference import apis, export_apis, export_views, views

api_urlpatterns = [
    path(
        "images/<id:pk>/prediction/", apis.ImagePredictionApi.as_view(), name="api-image-prediction"
    ),
    path(
        "images/<id:pk>/detections/", apis.ImageDetectionsApi.as_view(), name="api-image-detections"
    ),
    path("images/<id:pk>/similar/", apis.SimilarImagesApi.as_view(), name="api-image-similar"),
    path("batches/<id:pk>/prelabel/", apis.BatchPrelabelApi.as_view(), name="api-batch-prelabel"),
    path("prelabels/accept/", apis.PrelabelAcceptApi.as_view(), name="api-prelabel-accept"),
    path("models/", apis.ModelVersionListApi.as_view(), name="api-models"),
    path("selection/batches/", apis.SelectionBatchListApi.as_view(), name="api-selection-batches"),
    path("models/<id:pk>/status/", apis.ModelVersionStatusApi.as_view(), name="api-model-status"),
    path("novelty/scans/", apis.NoveltyScanApi.as_view(), name="api-novelty-scans"),
    path("novelty/clusters/", apis.NoveltyClusterListApi.as_view(), name="api-novelty-clusters"),
    path(
        "novelty/scans/<id:pk>/clusters/<int:number>/",
        apis.NoveltyClusterApi.as_view(),
        name="api-novelty-cluster",
    ),
    path(
        "novelty/scans/<id:pk>/clusters/<int:number>/label/",
        apis.NoveltyClusterLabelApi.as_view(),
        name="api-novelty-cluster-label",
    ),
    path("exports/", export_apis.ExportListApi.as_view(), name="api-exports"),
    path("exports/<id:pk>/", export_apis.ExportDetailApi.as_view(), name="api-export"),
]

urlpatterns = [
    path("prelabels/", views.prelabel_list, name="prelabel-list"),
    path("selection/", views.selection_page, name="selection"),
    path("novelty/", views.novelty_page, name="novelty"),
    path(
        "novelty/<id:pk>/clusters/<int:number>/", views.novelty_cluster_page, name="novelty-cluster"
    ),
    path("exports/", export_views.export_page, name="exports"),
    path("exports/<id:pk>/", export_views.export_detail, name="export-detail"),
    path("exports/<id:pk>/download", export_views.export_download, name="export-download"),
    path("exports/<id:pk>/delete", export_views.export_remove, name="export-delete"),
]
