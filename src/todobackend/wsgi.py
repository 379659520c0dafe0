"""WSGI entry point for the todobackend project."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'todobackend.settings.base')

application = get_wsgi_application()
