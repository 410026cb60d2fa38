from litedenoise.models.student import LiteDenoiseNet
from litedenoise.models.teacher import TeacherNet

__all__ = ["LiteDenoiseNet", "TeacherNet"]
