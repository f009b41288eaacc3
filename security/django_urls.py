"""One form endpoint for the CSRF probe of the Django side (Django's CsrfViewMiddleware guards it)."""

from django.http import JsonResponse
from django.urls import path


def create(request):
    return JsonResponse({"created": request.POST.get("username")}, status=201)


urlpatterns = [path("users", create)]
