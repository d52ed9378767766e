package reports

// SchemaV1 is the schema of version 1 reports, which ReadJSON upgrades.
const SchemaV1 = schemaV1
