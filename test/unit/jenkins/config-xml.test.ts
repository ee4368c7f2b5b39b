/**
 * The config.xml of submitted jobs, read back by a real XML parser (expat): the Jenkinsfile comes
 * back byte for byte whatever it holds (markup characters, CDATA ends, carriage returns), the
 * notebook's parameters become Jenkins parameter definitions, folders get a Folder item.
 */
import {
  escapeXml,
  folderConfigXml,
  notebookJobParameters,
  pipelineJobConfigXml,
} from '../../../jenkins-plugin-bridge/rest/config-xml';
import { makeNotebook } from '../../helpers/notebooks';
import { findAll, parseXml } from '../reports/python-parsers';

describe('pipelineJobConfigXml', () => {
  const nasty =
    "pipeline { stages { stage('a & b') { steps { echo \"<x> ]]> 'q' \\u00e9 ✓\" } } } }\r\nend\n";

  it('is a flow-definition whose sandboxed CpsFlowDefinition holds the script exactly', () => {
    const xml = pipelineJobConfigXml({
      script: nasty,
      description: 'Notebook <train>.ipynb & more',
      parameters: [],
    });
    const root = parseXml(xml);
    expect(root.tag).toBe('flow-definition');
    expect(root.attrs.plugin).toBe('workflow-job');
    const [definition] = findAll(root, 'definition');
    expect(definition.attrs.class).toBe('org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition');
    expect(findAll(definition, 'script')[0].text).toBe(nasty);
    expect(findAll(definition, 'sandbox')[0].text).toBe('true');
    expect(findAll(root, 'description')[0].text).toBe('Notebook <train>.ipynb & more');
    expect(findAll(root, 'hudson.model.ParametersDefinitionProperty')).toEqual([]);
  });

  it('declares string and boolean parameters with their defaults', () => {
    const xml = pipelineJobConfigXml({
      script: 'x',
      description: 'd',
      parameters: [
        { name: 'epochs', kind: 'string', defaultValue: '3', description: 'how <long>' },
        { name: 'fast', kind: 'boolean', defaultValue: 'true', description: '' },
      ],
    });
    const root = parseXml(xml);
    const strings = findAll(root, 'hudson.model.StringParameterDefinition');
    const booleans = findAll(root, 'hudson.model.BooleanParameterDefinition');
    expect(strings.map((p) => findAll(p, 'name')[0].text)).toEqual(['epochs']);
    expect(findAll(strings[0], 'defaultValue')[0].text).toBe('3');
    expect(findAll(strings[0], 'description')[0].text).toBe('how <long>');
    expect(findAll(booleans[0], 'defaultValue')[0].text).toBe('true');
  });

  it('replaces characters XML 1.0 cannot carry instead of writing broken XML', () => {
    const text = 'a\u0001b\u001fc\ud800d\te\nf';
    expect(escapeXml(text)).toBe('a\ufffdb\ufffdc\ufffdd\te\nf');
    expect(
      findAll(
        parseXml(pipelineJobConfigXml({ script: text, description: '', parameters: [] })),
        'script',
      )[0].text,
    ).toBe('a\ufffdb\ufffdc\ufffdd\te\nf');
  });

  it('folders are CloudBees Folder items', () => {
    expect(parseXml(folderConfigXml('made by <nbstage>')).tag).toBe(
      'com.cloudbees.hudson.plugins.folder.Folder',
    );
  });
});

describe('notebookJobParameters', () => {
  it('reads the parameters cell as the generated Jenkinsfile declares it', () => {
    const nb = makeNotebook([
      {
        source:
          'epochs = 3  # how many\nlr = 0.1\nname = "base"\nfast = True\nlayers = [1, 2]\nseed = compute()',
        tags: ['parameters'],
      },
    ]);
    expect(notebookJobParameters(nb)).toEqual([
      { name: 'epochs', kind: 'string', defaultValue: '3', description: 'how many' },
      { name: 'lr', kind: 'string', defaultValue: '0.1', description: 'notebook parameter lr' },
      {
        name: 'name',
        kind: 'string',
        defaultValue: 'base',
        description: 'notebook parameter name',
      },
      {
        name: 'fast',
        kind: 'boolean',
        defaultValue: 'true',
        description: 'notebook parameter fast',
      },
      {
        name: 'layers',
        kind: 'string',
        defaultValue: '[1,2]',
        description: 'notebook parameter layers',
      },
      { name: 'seed', kind: 'string', defaultValue: '', description: 'notebook parameter seed' },
    ]);
    expect(notebookJobParameters(makeNotebook(['print(1)']))).toEqual([]);
  });
});
