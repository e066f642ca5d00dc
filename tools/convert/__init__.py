"""The converter of the pretrained Transkun V2 checkpoint into models/transkun-v2.pscb (tools/convert/run.sh)."""
