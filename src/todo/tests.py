from django.urls import reverse
from rest_framework import status
from rest_framework.test import APITestCase

from .models import TodoItem


def create_item(client, **data):
    """POST a new todo item (defaults to 'Walk the dog') and return the response."""
    data.setdefault('title', 'Walk the dog')
    return client.post(reverse('todoitem-list'), data, format='json')


class TestCreateTodoItem(APITestCase):
    def setUp(self):
        self.response = create_item(self.client)

    def test_received_201_created_status_code(self):
        self.assertEqual(self.response.status_code, status.HTTP_201_CREATED)

    def test_received_location_header_hyperlink(self):
        self.assertRegex(self.response['Location'], r'^http://.+/todos/\d+$')

    def test_item_was_created(self):
        self.assertEqual(TodoItem.objects.count(), 1)

    def test_item_has_correct_title(self):
        self.assertEqual(TodoItem.objects.get().title, 'Walk the dog')

    def test_completed_defaults_to_false(self):
        self.assertIs(self.response.data['completed'], False)

    def test_url_field_matches_location_header(self):
        self.assertEqual(self.response.data['url'], self.response['Location'])

    def test_order_is_stored_and_returned(self):
        response = create_item(self.client, title='Feed the cat', order=5)
        self.assertEqual(response.data['order'], 5)
        self.assertEqual(TodoItem.objects.get(title='Feed the cat').order, 5)


class TestUpdateTodoItem(APITestCase):
    def setUp(self):
        response = create_item(self.client)
        self.assertIs(response.data['completed'], False)
        self.response = self.client.put(
            response['Location'], {'title': 'Walk the dog', 'completed': True}, format='json'
        )

    def test_received_200_created_status_code(self):
        self.assertEqual(self.response.status_code, status.HTTP_200_OK)

    def test_item_was_updated(self):
        self.assertIs(TodoItem.objects.get().completed, True)


class TestPatchTodoItem(APITestCase):
    def setUp(self):
        response = create_item(self.client)
        self.response = self.client.patch(
            response['Location'], {'title': 'Walk the dog', 'order': 1}, format='json'
        )

    def test_received_200_ok_status_code(self):
        self.assertEqual(self.response.status_code, status.HTTP_200_OK)

    def test_item_was_updated(self):
        self.assertEqual(TodoItem.objects.get().order, 1)


class TestDeleteTodoItem(APITestCase):
    def setUp(self):
        response = create_item(self.client)
        self.response = self.client.delete(response['Location'])

    def test_received_204_no_content_status_code(self):
        self.assertEqual(self.response.status_code, status.HTTP_204_NO_CONTENT)

    def test_item_was_deleted(self):
        self.assertEqual(TodoItem.objects.count(), 0)


class TestDeleteAllItems(APITestCase):
    def setUp(self):
        create_item(self.client)
        create_item(self.client, title='Feed the cat')
        self.response = self.client.delete(reverse('todoitem-list'))

    def test_received_204_no_content_status_code(self):
        self.assertEqual(self.response.status_code, status.HTTP_204_NO_CONTENT)

    def test_all_items_were_deleted(self):
        self.assertEqual(TodoItem.objects.count(), 0)


class TestListTodoItems(APITestCase):
    def test_list_returns_created_items(self):
        first = create_item(self.client, order=1)
        second = create_item(self.client, title='Feed the cat', order=2)
        response = self.client.get(reverse('todoitem-list'))
        self.assertEqual(response.status_code, status.HTTP_200_OK)
        self.assertEqual(response.json(), [first.json(), second.json()])


class TestUnknownTodoItem(APITestCase):
    def test_unknown_item_returns_404(self):
        url = reverse('todoitem-detail', kwargs={'pk': 999})
        for method in ('get', 'put', 'patch', 'delete'):
            with self.subTest(method=method):
                response = getattr(self.client, method)(url, {'title': 'x'}, format='json')
                self.assertEqual(response.status_code, status.HTTP_404_NOT_FOUND)


class TestInvalidTodoItem(APITestCase):
    def assert_rejected(self, data, field):
        response = self.client.post(reverse('todoitem-list'), data, format='json')
        self.assertEqual(response.status_code, status.HTTP_400_BAD_REQUEST)
        self.assertIn(field, response.data)
        self.assertEqual(TodoItem.objects.count(), 0)

    def test_missing_title_is_rejected(self):
        self.assert_rejected({'completed': False}, 'title')

    def test_blank_title_is_rejected(self):
        self.assert_rejected({'title': ''}, 'title')

    def test_invalid_completed_is_rejected(self):
        self.assert_rejected({'title': 'Walk the dog', 'completed': 'notabool'}, 'completed')

    def test_invalid_order_is_rejected(self):
        self.assert_rejected({'title': 'Walk the dog', 'order': 'abc'}, 'order')


class TestCors(APITestCase):
    def test_any_origin_is_allowed(self):
        response = self.client.get(reverse('todoitem-list'), headers={'Origin': 'http://example.com'})
        self.assertEqual(response['Access-Control-Allow-Origin'], '*')
