"""Placeholder router (filled in milestone 2)."""

from fastapi import APIRouter

router = APIRouter()
