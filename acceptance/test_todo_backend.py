"""Acceptance tests of a running todobackend, over HTTP, as a client sees it: every behaviour
of the public Todo-Backend spec (todobackend.com's spec runner), the CORS preflight a browser
on another origin sends, and the error cases. Only the standard library, so any Python runs
them; `cargo xtask release` runs them from a container of their own against the release
image on the run's private network.

    TODOBACKEND_URL=http://127.0.0.1:8000/todos python3 test_todo_backend.py [REPORT.xml]

With a report path (and unittest-xml-reporting installed), JUnit XML is written there.
The tests empty the list: never point them at data you want to keep.
"""
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.environ.get('TODOBACKEND_URL', 'http://127.0.0.1:8000/todos')
# The origin the public spec runner's page is served from: another origin than the API's.
ORIGIN = 'https://www.todobackend.com'
TIMEOUT = 10


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def call(method, url, data=None, headers=None):
    """One request; the response whatever its status (urllib raises on 4xx and 5xx)."""
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if body is not None:
        request.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


class SpecTestCase(unittest.TestCase):
    """Each test starts from an empty list, as the spec runner's do."""

    def setUp(self):
        self.assertIn(call('DELETE', ROOT).status, (200, 204), 'DELETE of the root url failed')

    def post(self, **todo):
        response = call('POST', ROOT, todo)
        self.assertIn(response.status, (200, 201), response.body)
        return response.json()

    def get(self, url):
        response = call('GET', url)
        self.assertEqual(response.status, 200, response.body)
        return response.json()

    def patch(self, url, **changes):
        response = call('PATCH', url, changes)
        self.assertEqual(response.status, 200, response.body)
        return response.json()


class TheApiRoot(SpecTestCase):
    def test_responds_to_a_get(self):
        self.assertEqual(call('GET', ROOT).status, 200)

    def test_responds_to_a_post_with_the_todo_which_was_posted_to_it(self):
        todo = self.post(title='a todo')
        self.assertEqual(todo['title'], 'a todo')

    def test_responds_successfully_to_a_delete(self):
        self.assertIn(call('DELETE', ROOT).status, (200, 204))

    def test_after_a_delete_responds_to_a_get_with_an_empty_array(self):
        self.post(title='to be deleted')
        call('DELETE', ROOT)
        self.assertEqual(self.get(ROOT), [])


class StoringNewTodosByPostingToTheRootUrl(SpecTestCase):
    def test_adds_a_new_todo_to_the_list_of_todos_at_the_root_url(self):
        self.post(title='walk the dog')
        todos = self.get(ROOT)
        self.assertEqual(len(todos), 1)
        self.assertEqual(todos[0]['title'], 'walk the dog')

    def test_sets_up_a_new_todo_as_initially_not_completed(self):
        todo = self.post(title='blah')
        self.assertIs(todo['completed'], False)
        self.assertIs(self.get(ROOT)[0]['completed'], False)

    def test_each_new_todo_has_a_url(self):
        todo = self.post(title='blah')
        self.assertIsInstance(todo.get('url'), str)
        self.assertTrue(todo['url'].startswith('http'), todo['url'])

    def test_each_new_todo_has_a_url_which_returns_a_todo(self):
        todo = self.post(title='my todo')
        fetched = self.get(todo['url'])
        self.assertEqual(fetched['title'], 'my todo')


class WorkingWithAnExistingTodo(SpecTestCase):
    def test_can_navigate_from_a_list_of_todos_to_an_individual_todo_via_urls(self):
        self.post(title='todo the first')
        self.post(title='todo the second')
        todos = self.get(ROOT)
        self.assertEqual(len(todos), 2)
        self.assertEqual(self.get(todos[0]['url'])['title'], todos[0]['title'])
        self.assertEqual(self.get(todos[1]['url'])['title'], todos[1]['title'])

    def test_can_change_the_todos_title_by_patching_to_the_todos_url(self):
        url = self.post(title='initial title')['url']
        self.assertEqual(self.patch(url, title='bathe the cat')['title'], 'bathe the cat')

    def test_can_change_the_todos_completedness_by_patching_to_the_todos_url(self):
        url = self.post(title='blah')['url']
        self.assertIs(self.patch(url, completed=True)['completed'], True)

    def test_changes_to_a_todo_are_persisted_and_show_up_when_refetching_the_todo(self):
        url = self.post(title='blah')['url']
        self.patch(url, title='changed title', completed=True)
        fetched = self.get(url)
        self.assertEqual(fetched['title'], 'changed title')
        self.assertIs(fetched['completed'], True)
        listed = self.get(ROOT)[0]
        self.assertEqual(listed['title'], 'changed title')
        self.assertIs(listed['completed'], True)

    def test_can_delete_a_todo_making_a_delete_request_to_the_todos_url(self):
        url = self.post(title='blah')['url']
        self.assertIn(call('DELETE', url).status, (200, 204))
        self.assertEqual(self.get(ROOT), [])
        self.assertEqual(call('GET', url).status, 404)


class TrackingTodoOrder(SpecTestCase):
    def test_can_create_a_todo_with_an_order_field(self):
        todo = self.post(title='blah', order=523)
        self.assertEqual(todo.get('order'), 523)

    def test_can_patch_a_todo_to_change_its_order(self):
        url = self.post(title='blah', order=10)['url']
        self.assertEqual(self.patch(url, order=95).get('order'), 95)

    def test_remembers_changes_to_a_todos_order(self):
        url = self.post(title='blah', order=10)['url']
        self.patch(url, order=95)
        self.assertEqual(self.get(url).get('order'), 95)


class CrossOriginRequests(SpecTestCase):
    """What a browser running the spec runner on another origin needs."""

    def preflight(self, url, method):
        return call('OPTIONS', url, headers={
            'Origin': ORIGIN,
            'Access-Control-Request-Method': method,
            'Access-Control-Request-Headers': 'content-type',
        })

    def assert_allowed(self, response, method):
        self.assertIn(response.status, (200, 204))
        self.assertIn(response.headers.get('Access-Control-Allow-Origin'), ('*', ORIGIN))
        methods = response.headers.get('Access-Control-Allow-Methods', '').upper()
        self.assertIn(method, [m.strip() for m in methods.split(',')])
        headers = response.headers.get('Access-Control-Allow-Headers', '').lower()
        self.assertIn('content-type', [h.strip() for h in headers.split(',')])

    def test_a_preflight_for_a_patch_of_a_todo_is_allowed(self):
        url = self.post(title='blah')['url']
        self.assert_allowed(self.preflight(url, 'PATCH'), 'PATCH')

    def test_a_preflight_for_a_post_or_delete_on_the_root_url_is_allowed(self):
        for method in ('POST', 'DELETE'):
            with self.subTest(method=method):
                self.assert_allowed(self.preflight(ROOT, method), method)

    def test_responses_allow_any_origin_to_read_them(self):
        response = call('GET', ROOT, headers={'Origin': ORIGIN})
        self.assertIn(response.headers.get('Access-Control-Allow-Origin'), ('*', ORIGIN))


class Errors(SpecTestCase):
    def test_an_unknown_todo_is_404_for_every_method(self):
        url = self.post(title='blah')['url']
        call('DELETE', url)
        for method, data in (('GET', None), ('PATCH', {'title': 'x'}), ('PUT', {'title': 'x'}), ('DELETE', None)):
            with self.subTest(method=method):
                self.assertEqual(call(method, url, data).status, 404)

    def test_a_todo_without_a_title_is_400_and_not_stored(self):
        response = call('POST', ROOT, {'completed': False})
        self.assertEqual(response.status, 400)
        self.assertIn('title', response.json())
        self.assertEqual(self.get(ROOT), [])

    def test_a_todo_with_a_bad_completed_or_order_is_400(self):
        for field, value in (('completed', 'not a boolean'), ('order', 'first')):
            with self.subTest(field=field):
                response = call('POST', ROOT, {'title': 'blah', field: value})
                self.assertEqual(response.status, 400)
                self.assertIn(field, response.json())

    def test_a_body_that_is_not_json_is_400(self):
        request = urllib.request.Request(ROOT, data=b'{not json', method='POST',
                                         headers={'Content-Type': 'application/json'})
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=TIMEOUT)
        self.assertEqual(raised.exception.code, 400)


class TheRelease(unittest.TestCase):
    def test_reports_its_version_and_its_health(self):
        response = call('GET', ROOT.rsplit('/', 1)[0] + '/health')
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.json()['status'], 'ok')
        version = call('GET', ROOT).headers.get('X-Todobackend-Version')
        self.assertTrue(version, 'no X-Todobackend-Version header')
        self.assertEqual(response.json()['version'], version)


def wait_for_the_api(within=60):
    """Waits until the API root answers from here: the app proved healthy inside its container,
    but its name on a fresh network may take a moment to resolve (Podman's DNS takes seconds)."""
    started = time.monotonic()
    while True:
        try:
            urllib.request.urlopen(ROOT, timeout=2).close()
            break
        except urllib.error.HTTPError:
            break  # an answer: the tests judge it
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() - started > within:
                sys.exit(f'{ROOT} did not answer within {within} s: {error}')
            time.sleep(0.2)
    waited = time.monotonic() - started
    if waited > 1:
        print(f'{ROOT} answered after {waited:.1f} s', flush=True)


def main():
    wait_for_the_api()
    report = sys.argv[1] if len(sys.argv) > 1 else None
    argv = [sys.argv[0], '-v']
    if report is None:
        unittest.main(argv=argv)
    import xmlrunner  # unittest-xml-reporting, as in the dev image

    os.makedirs(os.path.dirname(report) or '.', exist_ok=True)
    with open(report, 'wb') as output:
        runner = xmlrunner.XMLTestRunner(output=output, verbosity=2)
        program = unittest.main(argv=argv, testRunner=runner, exit=False)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == '__main__':
    main()
