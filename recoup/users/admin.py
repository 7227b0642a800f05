from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from recoup.users.models import Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Recoup", {"fields": ("role", "team")}))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
