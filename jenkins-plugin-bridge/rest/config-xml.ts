/**
 * The config.xml of the Pipeline jobs nbstage creates: a `flow-definition` (workflow-job) whose
 * `CpsFlowDefinition` holds the generated Jenkinsfile (sandboxed), the notebook's parameters as
 * build parameters (so that the very first `buildWithParameters` takes them), and a description
 * that links back to nbstage. Also the config.xml of a plain folder, for missing parent folders.
 */
import type { Notebook } from '../../pipelines/notebook/model';
import {
  jenkinsParameter,
  notebookParameters,
  type JenkinsParameter,
} from '../jenkinsfile/generate';

/** A build parameter of the job. */
export type JobParameter = JenkinsParameter;

/** What the job's config.xml holds. */
export interface PipelineJobConfig {
  /** The Jenkinsfile. */
  script: string;
  /** Plain text; shown on the job's page. */
  description: string;
  parameters: JobParameter[];
}

/**
 * Escapes text for XML 1.0 element content and attribute values. Characters XML 1.0 cannot
 * carry (control characters but tab and newline, lone surrogates) become U+FFFD; carriage
 * returns are kept as a character reference so that parsing does not fold them into newlines.
 */
export function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '&':
        out += '&amp;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      case '"':
        out += '&quot;';
        break;
      case "'":
        out += '&apos;';
        break;
      case '\r':
        out += '&#13;';
        break;
      default:
        out +=
          (code < 0x20 && ch !== '\t' && ch !== '\n') ||
          (code >= 0xd800 && code <= 0xdfff) ||
          code === 0xfffe ||
          code === 0xffff
            ? '\ufffd'
            : ch;
    }
  }
  return out;
}

/**
 * The notebook's parameters as Jenkins build parameters, the same way the generated
 * Jenkinsfile declares them (see {@link jenkinsParameter}); none when nbstage cannot read
 * parameters in the notebook's kernel language.
 */
export function notebookJobParameters(nb: Notebook): JobParameter[] {
  let defaults;
  try {
    defaults = notebookParameters(nb);
  } catch {
    // A kernel language nbstage cannot read parameters of: the job simply has none.
    return [];
  }
  return defaults.map(jenkinsParameter);
}

function parameterXml(p: JobParameter): string[] {
  const tag =
    p.kind === 'boolean'
      ? 'hudson.model.BooleanParameterDefinition'
      : 'hudson.model.StringParameterDefinition';
  return [
    `        <${tag}>`,
    `          <name>${escapeXml(p.name)}</name>`,
    `          <description>${escapeXml(p.description)}</description>`,
    `          <defaultValue>${escapeXml(p.defaultValue)}</defaultValue>`,
    ...(p.kind === 'string' ? ['          <trim>false</trim>'] : []),
    `        </${tag}>`,
  ];
}

/** The config.xml of a Pipeline job running `config.script` in the Groovy sandbox. */
export function pipelineJobConfigXml(config: PipelineJobConfig): string {
  const lines = [
    "<?xml version='1.0' encoding='UTF-8'?>",
    '<flow-definition plugin="workflow-job">',
    '  <actions/>',
    `  <description>${escapeXml(config.description)}</description>`,
    '  <keepDependencies>false</keepDependencies>',
  ];
  if (config.parameters.length === 0) {
    lines.push('  <properties/>');
  } else {
    lines.push(
      '  <properties>',
      '    <hudson.model.ParametersDefinitionProperty>',
      '      <parameterDefinitions>',
      ...config.parameters.flatMap(parameterXml),
      '      </parameterDefinitions>',
      '    </hudson.model.ParametersDefinitionProperty>',
      '  </properties>',
    );
  }
  lines.push(
    '  <definition class="org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition" plugin="workflow-cps">',
    `    <script>${escapeXml(config.script)}</script>`,
    '    <sandbox>true</sandbox>',
    '  </definition>',
    '  <triggers/>',
    '  <disabled>false</disabled>',
    '</flow-definition>',
  );
  return `${lines.join('\n')}\n`;
}

/** The config.xml of an empty folder (the CloudBees Folders plugin, bundled with Jenkins). */
export function folderConfigXml(description: string): string {
  return [
    "<?xml version='1.0' encoding='UTF-8'?>",
    '<com.cloudbees.hudson.plugins.folder.Folder plugin="cloudbees-folder">',
    `  <description>${escapeXml(description)}</description>`,
    '  <properties/>',
    '</com.cloudbees.hudson.plugins.folder.Folder>',
    '',
  ].join('\n');
}
