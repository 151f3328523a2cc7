"""``doctor`` check of the workflow image: one is configured, and it exists where that can be
checked (an ECR repository, with DescribeImages). An image in another registry cannot be checked
without pulling it, so it is reported as not checked, never as fine."""

from __future__ import annotations

from ..aws.ecr import EcrApi, parse_ecr_image
from .checks import OK, PROBLEM, SKIP, CheckContext

__all__ = ["ImageChecks", "NO_IMAGE_FIX"]

NO_IMAGE_FIX = (
    "build the image from this repository's Dockerfile, push it (e.g. to ECR), and pass --image,"
    " set [aws] workflow_image, or tag the workflow queue with WorkflowImage"
)


class ImageChecks(CheckContext):
    """The workflow image check (mixed into :class:`~miniwdl_aws.ops.doctor.Doctor`)."""

    def check_image(self) -> None:
        """A workflow image is configured and, in ECR, exists."""
        image = self.t.workflow_image
        if not image:
            if self.t.workflow_queue:
                self._add("workflow image", PROBLEM, "not configured", NO_IMAGE_FIX)
            return
        ecr = parse_ecr_image(image)
        if ecr is None:
            self._add("workflow image", SKIP, f"{image}: not in ECR, existence not checked")
            return
        account, _region, repository, ref = ecr
        if EcrApi(self.clients, self.calls).image_exists(account, repository, ref):
            self._add("workflow image", OK, f"{image} exists")
        else:
            self._add("workflow image", PROBLEM, f"{image} not found in ECR", NO_IMAGE_FIX)
