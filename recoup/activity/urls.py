from django.urls import path

from recoup.activity.views import inbound, task_rules, timeline, worklist

urlpatterns: list = [
    # worklist and tasks
    path("worklist/", worklist.WorklistView.as_view(), name="worklist"),
    path("tasks/", worklist.TaskListView.as_view(), name="task-list"),
    path("tasks/bulk/", worklist.TaskBulkView.as_view(), name="task-bulk"),
    path("settings/task-rules/", task_rules.TaskRulesView.as_view(), name="task-rules"),
    path("settings/task-rules/<int:pk>/", task_rules.TaskRuleUpdateView.as_view(), name="task-rule-update"),
    path(
        "settings/task-rules/assignment/",
        task_rules.AssignmentRuleSaveView.as_view(),
        name="assignment-rule-add",
    ),
    path(
        "settings/task-rules/assignment/<int:pk>/",
        task_rules.AssignmentRuleSaveView.as_view(),
        name="assignment-rule-save",
    ),
    # timeline, calls, notes and emails
    path("customers/<int:pk>/timeline/", timeline.TimelinePanelView.as_view(), name="activity-timeline"),
    path(
        "customers/<int:pk>/timeline/items/",
        timeline.TimelineItemsView.as_view(),
        name="activity-timeline-items",
    ),
    path("customers/<int:pk>/calls/", timeline.CallView.as_view(), name="activity-call"),
    path("customers/<int:pk>/notes/", timeline.NoteView.as_view(), name="activity-note"),
    path("customers/<int:pk>/emails/", timeline.EmailView.as_view(), name="activity-email"),
    path(
        "customers/<int:pk>/emails/preview/",
        timeline.EmailPreviewView.as_view(),
        name="activity-email-preview",
    ),
    # inbound email
    path("inbound/", inbound.InboundListView.as_view(), name="activity-inbound-list"),
    path("inbound/<int:pk>/", inbound.InboundDetailView.as_view(), name="activity-inbound-detail"),
    path("inbound/<int:pk>/assign/", inbound.InboundAssignView.as_view(), name="activity-inbound-assign"),
    path("inbound/<int:pk>/ignore/", inbound.InboundIgnoreView.as_view(), name="activity-inbound-ignore"),
    path(
        "inbound/<int:pk>/attachments/<int:attachment_pk>/",
        inbound.InboundAttachmentView.as_view(),
        name="activity-inbound-attachment",
    ),
]
