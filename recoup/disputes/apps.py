from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "recoup.disputes"
    label = "disputes"
