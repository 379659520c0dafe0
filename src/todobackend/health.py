"""What a running release reports about itself: its version on every response, and a health
endpoint that proves the database answers."""
import os

from django.db import connection
from django.http import JsonResponse

# Set in the release image from `git describe` (docker/release/Dockerfile).
VERSION = os.environ.get('APP_VERSION', 'unknown')
VERSION_HEADER = 'X-Todobackend-Version'


class HealthMiddleware:
    """Answers `GET /health` before Django checks the Host header (CommonMiddleware does), so
    a probe from inside the container (`localhost`) or from an orchestrator (an IP address) is
    never refused by ALLOWED_HOSTS. 200 once the database answers a query, 503 otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == '/health':
            try:
                with connection.cursor() as cursor:
                    cursor.execute('SELECT 1')
                    cursor.fetchone()
            except Exception as error:  # any failure to reach the database is ill health
                response = JsonResponse({'status': 'unavailable', 'error': str(error)}, status=503)
            else:
                response = JsonResponse({'status': 'ok', 'version': VERSION})
        else:
            response = self.get_response(request)
        response[VERSION_HEADER] = VERSION
        return response
