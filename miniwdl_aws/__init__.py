"""miniwdl-aws: run WDL workflows with miniwdl on AWS Batch, with EFS as the shared filesystem.

The container backend classes are imported lazily by miniwdl through the
``miniwdl.plugin.container_backend`` entry point (``miniwdl_aws.backend``), so importing this
package stays cheap for the submitter CLI.
"""

__version__ = "1.0.0"
