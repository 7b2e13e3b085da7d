"""CloudFormation and CDK synth output (YAML or JSON) into clusters, node identities and roles.

Templates are decoded with cfn-lint's decoder (short-form tags, line marks for YAML and JSON) and
their intrinsics evaluated (:mod:`.intrinsics`). Files are read first and joined afterwards, so a
node group stack that names its cluster finds it in another template of the same scan; a cluster
no scanned template defines is kept with what is known and a gap for the rest (fail closed).

Clusters are keyed by their template and logical id, never by name: a part (node group, add-on,
association, access entry) joins the cluster it ``Ref``s, else the only scanned cluster of that name
(the one in its own template first); a name several templates define is a gap and the part makes
those clusters unknown. ``Fn::ImportValue`` resolves from the scanned templates' exports and a
nested stack whose template was scanned is read with the parameters its parent passes.
"""

from cniguard.collect.iac.cloudformation.collect import collect_cloudformation

__all__ = ["collect_cloudformation"]
