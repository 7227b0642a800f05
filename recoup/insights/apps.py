from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "recoup.insights"
    label = "insights"
