// Entry point of the widget template admin form (loaded by its change_form template as a
// module script, so the page needs no inline script): code editors, then the live preview.

import { attachEditors } from "./admin_editor.js";
import { attachPreview } from "./admin_preview.js";

attachEditors();
attachPreview();
