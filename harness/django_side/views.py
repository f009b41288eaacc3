"""The HTTP API of the Django baseline: the same three endpoints as the DataFlow app."""

import json

from django.http import JsonResponse

from . import auth_ops


def users(request):
    if request.method == "POST":
        body = json.loads(request.body)
        user = auth_ops.create_user(body["username"], body["email"], body["password"])
        return JsonResponse({"id": user.id}, status=201)
    return JsonResponse({"users": auth_ops.list_users(int(request.GET.get("page", 0)))})


def permission(request, user_id: int, codename: str):
    return JsonResponse({"allowed": auth_ops.has_perm(user_id, codename)})
