from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Models that run"

    def ready(self) -> None:
        # The labelled pool hides people from those outside their organisation; it imports nothing
        # from here, so this app tells it where its detectors and classifiers saw someone.
        from annotation.privacy import people_finder_register
        from inference.services.privacy import people_found

        people_finder_register(people_found)
