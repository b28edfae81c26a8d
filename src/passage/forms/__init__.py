"""Forms: XLSForm, compiled with pyxform, is the one schema language."""

from passage.forms.registry import get_form, install_form, list_forms
from passage.forms.xlsform import Field, Form, compile_xlsform

__all__ = ["Field", "Form", "compile_xlsform", "get_form", "install_form", "list_forms"]
