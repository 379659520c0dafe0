from rest_framework import serializers

from .models import TodoItem


class TodoItemSerializer(serializers.HyperlinkedModelSerializer):
    # `url` is built from the request, so clients get absolute links.
    url = serializers.HyperlinkedIdentityField(view_name='todoitem-detail')

    class Meta:
        model = TodoItem
        fields = ['url', 'title', 'completed', 'order']
