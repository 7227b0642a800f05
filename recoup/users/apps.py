from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "recoup.users"
    label = "users"
