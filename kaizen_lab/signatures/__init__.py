"""Signatures: typed contracts parsed from text, functions or classes, and the adapters that speak them."""

from kaizen_lab.signatures.fields import MISSING, Confidence, FieldSpec, InputField, OutputField
from kaizen_lab.signatures.parser import SignatureCompiler, SignatureParser
from kaizen_lab.signatures.signature import Signature

__all__ = ["MISSING", "Confidence", "FieldSpec", "InputField", "OutputField", "Signature", "SignatureCompiler", "SignatureParser"]
