package reports

// SchemaV1 is the schema of version 1 reports, which ReadJSON upgrades.
const SchemaV1 = schemaV1

// SchemaV2 is the schema of version 2 reports (windows without a start).
const SchemaV2 = schemaV2
