import type { Pipeline, PipelineStage } from "./types.ts";

/**
 * The pipelines a new portal has: deals' "default" pipeline and tickets' "0" pipeline, with the
 * stage ids HubSpot's documentation uses. HubSpot gives its default pipelines createdAt = 0.
 */

function stage(id: string, label: string, displayOrder: number, metadata: Record<string, string>): PipelineStage {
  return { id, label, displayOrder, metadata, createdAt: 0, updatedAt: 0, archived: false };
}

function pipeline(id: string, label: string, stages: PipelineStage[]): Pipeline {
  return { id, label, displayOrder: 0, createdAt: 0, updatedAt: 0, archived: false, stages };
}

export function defaultPipelines(): Record<string, Pipeline[]> {
  const deals = pipeline("default", "Sales Pipeline", [
    stage("appointmentscheduled", "Appointment Scheduled", 0, { isClosed: "false", probability: "0.2" }),
    stage("qualifiedtobuy", "Qualified To Buy", 1, { isClosed: "false", probability: "0.4" }),
    stage("presentationscheduled", "Presentation Scheduled", 2, { isClosed: "false", probability: "0.6" }),
    stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, { isClosed: "false", probability: "0.8" }),
    stage("contractsent", "Contract Sent", 4, { isClosed: "false", probability: "0.9" }),
    stage("closedwon", "Closed Won", 5, { isClosed: "true", probability: "1.0" }),
    stage("closedlost", "Closed Lost", 6, { isClosed: "true", probability: "0.0" }),
  ]);
  const tickets = pipeline("0", "Support Pipeline", [
    stage("1", "New", 0, { ticketState: "OPEN", isClosed: "false" }),
    stage("2", "Waiting on contact", 1, { ticketState: "OPEN", isClosed: "false" }),
    stage("3", "Waiting on us", 2, { ticketState: "OPEN", isClosed: "false" }),
    stage("4", "Closed", 3, { ticketState: "CLOSED", isClosed: "true" }),
  ]);
  return { deals: [deals], tickets: [tickets] };
}
