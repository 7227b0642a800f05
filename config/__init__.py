# The Celery app loads with Django, so that every task sent from Django goes to its broker (or runs eagerly).
from config.celery import app as celery_app

__all__ = ["celery_app"]
