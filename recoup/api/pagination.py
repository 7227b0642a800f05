from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """100 rows a page; `?page_size=` asks for up to 1,000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
