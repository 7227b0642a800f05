"""/api/v1/insights/…: payment predictions, the priority terms ranked by their weighted score, the weights,
the model versions, the stored backtests and the 13-week cash forecast (JSON, or CSV with ?format=csv).

Every role reads. Managers and admins set the weights (services.priority_weights_update checks again).
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recoup.api.filters import IdFilter
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.api.serializers.insights import (
    BacktestSerializer,
    CashForecastSerializer,
    CustomerPrioritySerializer,
    ForecastParamsSerializer,
    InvoicePredictionSerializer,
    NextActionParamsSerializer,
    NextBestActionSerializer,
    PredictionModelSerializer,
    PriorityWeightsSerializer,
)
from recoup.api.views.reports import CSVRenderer
from recoup.insights import actions, selectors, services
from recoup.insights.models import (
    Backtest,
    BacktestKind,
    CustomerPriority,
    InvoicePrediction,
    Method,
    PredictionModel,
)
from recoup.users.models import MANAGE_ROLES, READ_ROLES


class PredictionFilter(filters.FilterSet):
    customer_id = IdFilter(help_text="The customer's id.")
    invoice_id = IdFilter(help_text="The invoice's id.")
    method = filters.ChoiceFilter(choices=Method.choices, help_text="model, or a baseline.")

    class Meta:
        model = InvoicePrediction
        fields: list[str] = []


class PriorityFilter(filters.FilterSet):
    customer_id = IdFilter(help_text="The customer's id.")
    method = filters.ChoiceFilter(choices=Method.choices)

    class Meta:
        model = CustomerPriority
        fields: list[str] = []


class BacktestFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=BacktestKind.choices)

    class Meta:
        model = Backtest
        fields: list[str] = []


class _ReadOnly(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = READ_ROLES
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"


class InvoicePredictionViewSet(_ReadOnly):
    """The prediction of every open invoice: the date it will be settled, with a 10–90 % interval, P(paid
    by the due date), P(more than 30 days late) and P(paid within 7 days). `is_baseline` rows come from the
    transparent fallback (the customer's average, else the terms) while there is too little history."""

    serializer_class = InvoicePredictionSerializer
    filterset_class = PredictionFilter
    ordering_fields = ["predicted_date", "invoice_id", "p_late_30"]
    ordering = ["predicted_date", "invoice_id"]

    def get_queryset(self) -> QuerySet[InvoicePrediction]:
        return InvoicePrediction.objects.select_related("invoice", "model")


class CustomerPriorityViewSet(_ReadOnly):
    """Customers ranked for collection by their score, highest first: Σ weight × points over the named
    terms (expected amount at risk, days past due, broken promises, customer risk, about to pay, open
    dispute), each term shown with its points, weight and contribution, and the risk's main drivers.
    `{id}` is the customer's id."""

    serializer_class = CustomerPrioritySerializer
    filterset_class = PriorityFilter
    ordering_fields: list[str] = []
    lookup_field = "customer_id"

    def get_queryset(self) -> QuerySet[CustomerPriority]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no weights to read
            return CustomerPriority.objects.none()
        return selectors.priority_ranking().prefetch_related("customer")  # by the stored score: its index

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        self.weights = selectors.priority_weights()

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "weights": getattr(self, "weights", {})}


class PredictionModelViewSet(_ReadOnly):
    """The trained model versions, newest first, with their training window and validation figures (never
    the estimators themselves). `{id}` is the version number."""

    serializer_class = PredictionModelSerializer
    ordering_fields: list[str] = []
    lookup_field = "version"

    def get_queryset(self) -> QuerySet[PredictionModel]:
        return selectors.model_versions()


class BacktestViewSet(_ReadOnly):
    """The backtests run (`recoup insights backtest`), newest first, with everything each reported."""

    serializer_class = BacktestSerializer
    filterset_class = BacktestFilter
    ordering_fields: list[str] = []

    def get_queryset(self) -> QuerySet[Backtest]:
        return selectors.backtests()


class NextBestActionViewSet(viewsets.ViewSet):
    """The suggested next best action of customers: the channel (call, email or wait), the weekday and hour
    in the customer's time zone, and the tone, each with its evidence (touches followed by a payment within
    7 days, the customer's own or its similar customers'). The list takes `?customer_id=` repeated or
    comma-separated (at most 100); `{customer_id}` is one customer."""

    read_roles = READ_ROLES
    lookup_field = "customer_id"
    lookup_value_regex = r"[0-9]{1,18}"

    @extend_schema(
        parameters=[NextActionParamsSerializer], responses={200: NextBestActionSerializer(many=True)}
    )
    def list(self, request: Request) -> Response:
        params = NextActionParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ids = params.validated_data["customer_id"]
        found = actions.next_best_actions(ids, today=timezone.localdate())
        rows = [found[pk] for pk in dict.fromkeys(ids) if pk in found]
        return Response(NextBestActionSerializer(rows, many=True).data)

    @extend_schema(responses={200: NextBestActionSerializer})
    def retrieve(self, request: Request, customer_id: str) -> Response:
        suggestion = actions.next_best_action(int(customer_id), today=timezone.localdate())
        if suggestion is None:
            raise NotFound("No such customer.")
        return Response(NextBestActionSerializer(suggestion).data)


class PriorityWeightsView(APIView):
    """The weight of each priority term. Every role reads; managers and admins set them (PUT: all six,
    PATCH: some), and the ranking follows at once."""

    read_roles = READ_ROLES
    write_roles = MANAGE_ROLES
    parser_classes = [DecimalJSONParser]

    @extend_schema(responses={200: PriorityWeightsSerializer})
    def get(self, request: Request) -> Response:
        return Response(selectors.priority_weights())

    @extend_schema(request=PriorityWeightsSerializer, responses={200: PriorityWeightsSerializer})
    def put(self, request: Request) -> Response:
        return self._save(request, partial=False)

    @extend_schema(request=PriorityWeightsSerializer, responses={200: PriorityWeightsSerializer})
    def patch(self, request: Request) -> Response:
        return self._save(request, partial=True)

    def _save(self, request: Request, *, partial: bool) -> Response:
        params = PriorityWeightsSerializer(data=request.data, partial=partial)
        params.is_valid(raise_exception=True)
        services.priority_weights_update(actor=request.user, **params.validated_data)
        return Response(selectors.priority_weights())


class CashForecastView(APIView):
    """Expected collections per week of the open invoices over the next weeks (13 by default), in the base
    currency, with an 80 % band, from the stored predictions. CSV with ?format=csv."""

    read_roles = READ_ROLES
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            ForecastParamsSerializer,
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: one row per week."),
        ],
        responses={
            (200, "application/json"): CashForecastSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="week,start,end,expected,low,high"
            ),
        },
    )
    def get(self, request: Request) -> Response:
        params = ForecastParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = selectors.cash_forecast(**params.validated_data)
        if request.accepted_renderer.format == "csv":
            filename = f"cash-forecast-{result.as_of.isoformat()}.csv"
            return Response(
                selectors.forecast_as_csv(result),
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Response(result.as_dict())

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON, even when the forecast was asked for as CSV.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
