from django.urls import path

from .views import TodoItemViewSet

todo_list = TodoItemViewSet.as_view({'get': 'list', 'post': 'create', 'delete': 'destroy_all'})
todo_detail = TodoItemViewSet.as_view(
    {'get': 'retrieve', 'put': 'update', 'patch': 'partial_update', 'delete': 'destroy'}
)

urlpatterns = [
    path('todos', todo_list, name='todoitem-list'),
    path('todos/<int:pk>', todo_detail, name='todoitem-detail'),
]
