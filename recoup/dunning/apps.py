from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "recoup.dunning"
    label = "dunning"
