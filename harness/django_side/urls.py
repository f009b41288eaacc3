from django.urls import path

from . import views

urlpatterns = [
    path("users", views.users),
    path("users/<int:user_id>/permissions/<str:codename>", views.permission),
]
