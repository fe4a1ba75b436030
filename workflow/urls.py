from django.contrib.auth import views as auth_views
from django.urls import path

from workflow.web import pages as views, downloads as views_documents, leadership as views_leadership
from workflow.web.bounds import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification-open"),
    path("notifications/channels/", views.notification_settings, name="notification-settings"),
    path("red-list/", views_leadership.red_list, name="red-list"),
    path("red-list/<int:unit_id>/letter.pdf", views_leadership.supervision_letter, name="supervision-letter"),
    path("evidence/<uuid:pk>/", views.evidence_download, name="evidence-download"),
    path("documents/<uuid:pk>/", views_documents.document_download, name="document-download"),
    path("accounts/login/",
         auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
