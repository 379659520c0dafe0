import os
import tempfile
from unittest import mock

from django.db import connection
from django.test import SimpleTestCase, TestCase, override_settings

from .health import VERSION, VERSION_HEADER


class TestHealth(TestCase):
    def test_health_answers_ok_with_the_version_once_the_database_answers(self):
        response = self.client.get('/health')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {'status': 'ok', 'version': VERSION})

    @override_settings(ALLOWED_HOSTS=['todos.example.com'])
    def test_health_answers_a_probe_whatever_its_host(self):
        self.assertEqual(self.client.get('/health', HTTP_HOST='10.0.0.7:8000').status_code, 200)
        self.assertEqual(self.client.get('/todos', HTTP_HOST='10.0.0.7:8000').status_code, 400)

    def test_health_is_503_when_the_database_does_not_answer(self):
        def refuse(execute, sql, params, many, context):
            raise ConnectionError('the database is gone')

        with connection.execute_wrapper(refuse):
            response = self.client.get('/health')
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()['status'], 'unavailable')

    def test_every_response_says_the_version(self):
        self.assertEqual(self.client.get('/todos')[VERSION_HEADER], VERSION)


class TestSettingsFromEnvironment(SimpleTestCase):
    """A secret reaches the settings as a variable or, in a swarm, as a file (NAME_FILE)."""

    def test_a_secret_is_read_from_the_file_its_file_variable_names(self):
        from .settings.base import from_env

        with tempfile.NamedTemporaryFile('w', suffix='.secret') as file:
            file.write('s3cret\n')
            file.flush()
            with mock.patch.dict(os.environ, {'TODO_PASSWORD_FILE': file.name}, clear=False):
                self.assertEqual(from_env('TODO_PASSWORD', 'default'), 's3cret')
        with mock.patch.dict(os.environ, {'TODO_PASSWORD': 'plain'}, clear=False):
            self.assertEqual(from_env('TODO_PASSWORD', 'default'), 'plain')
        self.assertEqual(from_env('TODO_PASSWORD', 'default'), 'default')

    def test_a_secret_given_both_ways_is_refused(self):
        from .settings.base import from_env

        both = {'TODO_PASSWORD': 'a', 'TODO_PASSWORD_FILE': '/dev/null'}
        with mock.patch.dict(os.environ, both, clear=False), self.assertRaises(RuntimeError):
            from_env('TODO_PASSWORD')
