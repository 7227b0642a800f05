from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "recoup.api"
    label = "api"
