"""Shared steps for the hazard tests: an inspection with chosen failures, and a major hazard
driven along its path through the platform's services."""
import io

from PIL import Image

from processes.hazard import services
from processes.hazard.models import HazardCase
from tests.factories import upload
from workflow.cases import services as case_services


def photo(seed: int) -> bytes:
    """A distinct picture (its own perceptual hash), as a camera's JPEG."""
    image = Image.new("RGB", (64, 48), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    for x in range(0, 64, 8):
        for y in range(0, 48, 8):
            if (x * seed + y * (seed + 3)) % 3 == 0:
                image.paste((255 - x * 3, y * 5 % 256, (x + y + seed * 11) % 256), (x, y, x + 8, y + 8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def inspect(world, checklist="fire", fail=(), kind="unannounced", unit=None, actor="inspector"):
    """Run an inspection of county A: the items coded in `fail` fail, the rest pass."""
    inspection = services.start_inspection(actor=world.actor(actor), unit=unit or world.county_a,
                                           checklist=checklist, kind=kind)
    answers = {a.position: ("fail" if a.code in fail else "pass", "现场发现问题" if a.code in fail else "")
               for a in inspection.answers.all()}
    services.answer(actor=world.actor(actor), inspection_id=inspection.pk, answers=answers)
    hazards = services.submit_inspection(actor=world.actor(actor), inspection_id=inspection.pk)
    return inspection, hazards


def act(world, case, who, action, **params):
    return case_services.act(HazardCase, actor=world.actor(who), case_id=case.pk, action=action, **params)


def add_photo(world, case, who, stage, seed):
    return case_services.add_evidence(HazardCase, actor=world.actor(who), case_id=case.pk,
                                      upload=upload(f"p{seed}.jpg", photo(seed), "image/jpeg"), stage=stage)
