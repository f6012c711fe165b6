//! `homelab schema`: print the JSON Schema of `homelab.yaml`, for editors and other tools.
//! `homelab render` also writes it beside `homelab.yaml` (see [`crate::config::schema`]).

use crate::error::{Result, Status};

pub fn run() -> Result<Status> {
    crate::ui::printer::data(&crate::config::schema::json_schema_text());
    Ok(Status::Ok)
}
