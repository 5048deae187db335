"""Several optimizers in one step: each variable moved by the optimizer of its variable group.

`--variable_groups='group.*kernel:optimizer=muon,momentum=0.6,nesterov=1'` moves the
conv filters by Muon and every other variable by the run's --optimizer, in the same
`apply_gradients` (airbench94_muon's two optimizers). The variables are split once,
in `build`, by the first group whose pattern matches each (convnet.optim.variable_groups);
the groups with the same (optimizer, momentum, nesterov) share one optimizer. Each part
keeps its own slots and update count; in a checkpoint they are `optimizer/parts/<i>`, in
the order the parts first occur among the variables.
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.optim import optimizers, variable_groups


class Grouped(optimizers.Optimizer):
    """An `Optimizer` made of one optimizer per distinct setting of the groups.

    Args:
      default: (optimizer name, momentum, nesterov) of the variables no group sets one for.
      groups: the parsed --variable_groups (their optimizer, momentum and nesterov keys).
    """

    def __init__(self, default: tuple[str, float, bool],
                 groups: Sequence[variable_groups.VariableGroup], name: str = "grouped"):
        super().__init__(name=name)
        self.default, self.groups = tuple(default), tuple(groups)
        self.parts: list[optimizers.Optimizer] = []
        self._members: list[list[int]] = []  # per part: indices into the variable list

    def setting_of(self, variable: tf.Variable) -> tuple[str, float, bool]:
        """(optimizer, momentum, nesterov) that moves `variable`."""
        group = variable_groups.group_of(self.groups, variable)
        name, momentum, nesterov = self.default
        if group is None:
            return self.default
        return (group.optimizer or name,
                momentum if group.momentum is None else group.momentum,
                nesterov if group.nesterov is None else group.nesterov)

    def build(self, variables: Sequence[tf.Variable]) -> None:
        if self._var_ids is not None:
            return
        self._var_ids = [id(v) for v in variables]
        settings: list[tuple] = []
        for index, var in enumerate(variables):
            setting = self.setting_of(var)
            if setting not in settings:
                settings.append(setting)
                self._members.append([])
            self._members[settings.index(setting)].append(index)
        with self.name_scope:
            self.parts = [optimizers.make_optimizer(*setting, label=f"part{i}_{setting[0]}")
                          for i, setting in enumerate(settings)]
        for part, members in zip(self.parts, self._members, strict=True):
            part.build([variables[i] for i in members])

    def apply_gradients(self, grads, variables, learning_rate, *, lr_scales=None,
                        train_until=None) -> None:
        """`Optimizer.apply_gradients`, each part on its own variables."""
        if self._var_ids is None:
            raise RuntimeError("call optimizer.build(variables) before apply_gradients")
        if [id(v) for v in variables] != self._var_ids:
            raise ValueError("apply_gradients got other variables than the optimizer was built for")
        self.iterations.assign_add(1)
        lr_scales = lr_scales or [1.0] * len(variables)
        train_until = train_until or [None] * len(variables)
        for part, members in zip(self.parts, self._members, strict=True):
            part.apply_gradients([grads[i] for i in members], [variables[i] for i in members],
                                 learning_rate, lr_scales=[lr_scales[i] for i in members],
                                 train_until=[train_until[i] for i in members])
