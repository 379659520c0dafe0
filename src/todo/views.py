from rest_framework import status, viewsets
from rest_framework.response import Response

from .models import TodoItem
from .serializers import TodoItemSerializer


class TodoItemViewSet(viewsets.ModelViewSet):
    queryset = TodoItem.objects.all()
    serializer_class = TodoItemSerializer

    def destroy_all(self, request, *args, **kwargs):
        """DELETE on the collection removes every item (Todo-Backend spec)."""
        self.get_queryset().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
